// The typed client as the web UI loads it: bundled for the browser and put on window for page scripts.
import { SkynodeClient } from "../../app/client";

(globalThis as unknown as { SkynodeClient: typeof SkynodeClient }).SkynodeClient = SkynodeClient;
