// What a page of the console is: a function that fills a container and returns its cleanup
// (unsubscribing from the live feed). Apart from the shell, so pages and shell need not import
// each other.
import type { Session } from "./api-client.js";
import type { LiveFeed } from "./live-feed.js";

export interface PageContext {
  session: Session;
  feed: LiveFeed;
  go(hash: string): void;
}

export type Page = (container: HTMLElement, context: PageContext) => (() => void) | undefined;
