// The integration stores' contract on SQLite: a WAL file, which a second connection opens as a
// second process on the same machine would.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";
import {
  type IntegrationStores,
  sqliteIntegrationStores,
} from "../src/integrations/integration-stores.js";
import { describeIntegrationStores } from "./support/integration-store-contract.js";

const dir = mkdtempSync(join(tmpdir(), "beckon-integration-stores-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

describeIntegrationStores(
  "SQLite file",
  async () => {
    const path = join(dir, `integrations-${++files}.db`);
    const opened: IntegrationStores[] = [sqliteIntegrationStores(path)];
    return {
      stores: opened[0] as IntegrationStores,
      async another() {
        const stores = sqliteIntegrationStores(path);
        opened.push(stores);
        return stores;
      },
      async close() {
        for (const stores of opened) await stores.close();
      },
    };
  },
  { sharedEndpoints: false },
);
