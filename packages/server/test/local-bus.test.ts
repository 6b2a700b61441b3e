// The Bus contract on the in-process bus.
import { LocalBus } from "../src/bus/local-bus.js";
import { describeBus } from "./support/bus-contract.js";

describeBus("local", async () => new LocalBus());
