// The integration stores' contract on PostgreSQL: each test in a schema of its own, made by the
// call store's migrations; `another()` is a second node with its own pool on the same schema.
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { postgresIntegrationStores } from "../src/integrations/integration-stores.js";
import { PostgresCallStore } from "../src/store/postgres-call-store.js";
import { describeIntegrationStores } from "./support/integration-store-contract.js";
import { havePostgres, postgresSchemas, postgresUrl } from "./support/services.js";

const available = await havePostgres();
const schemas = postgresSchemas();
afterAll(() => schemas.dropAll());

function open(schema: string): Promise<PostgresCallStore> {
  return PostgresCallStore.open({ connectionString: postgresUrl, schema, poolSize: 4 });
}

describe.runIf(available)("PostgreSQL integration stores", () => {
  describeIntegrationStores(
    "PostgreSQL",
    async () => {
      const schema = schemas.create();
      const nodes = [await open(schema)];
      return {
        stores: postgresIntegrationStores((nodes[0] as PostgresCallStore).pool),
        async another() {
          const node = await open(schema);
          nodes.push(node);
          return postgresIntegrationStores(node.pool);
        },
        async close() {
          for (const node of nodes) await node.close();
        },
      };
    },
    { sharedEndpoints: true },
  );

  it("the integrations' tables sit in the call store's schema, nowhere else", async () => {
    const schema = schemas.create();
    const store = await open(schema);
    try {
      await postgresIntegrationStores(store.pool).keys.create("backend", ["read"], Date.now());
      const client = new pg.Client({ connectionString: postgresUrl });
      await client.connect();
      try {
        const tables = await client.query<{ table_schema: string }>(
          "SELECT table_schema FROM information_schema.tables WHERE table_name = 'api_keys'",
        );
        expect(tables.rows.map((row) => row.table_schema)).toContain(schema);
        const keys = await client.query(`SELECT name FROM ${schema}.api_keys`);
        expect(keys.rows).toEqual([{ name: "backend" }]);
      } finally {
        await client.end();
      }
    } finally {
      await store.close();
    }
  });
});
