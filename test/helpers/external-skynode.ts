// A SkyNode in its own process, attached to a hub over the network like any external SkyNode: the real SkyNode
// (simulated devices, its own data dir and database) with a skynode token for its telescope.
// Usage: bun test/helpers/external-skynode.ts HUB_URL TOKEN DATA_DIR UID   (prints "attached" once connected)
import { ConfigSchema } from "../../app/config/schema";
import { SkyNode } from "../../app/node/skynode";
import { openDatabase } from "../../app/store/database";

const [hub, token, dataDir, uid] = process.argv.slice(2) as [string, string, string, string];
const db = openDatabase(dataDir);
const node = new SkyNode({ config: ConfigSchema.parse({ telescope: { uid } }), dataDir, db, token: () => token });
await node.telescope.devices.ready;
node.start(hub);
while (!node.attached) await Bun.sleep(10);
console.log("attached");
process.on("SIGTERM", async () => {
  await node.stop();
  db.close();
  process.exit(0);
});
