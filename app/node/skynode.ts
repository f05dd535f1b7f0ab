import type { Database } from "bun:sqlite";
import pino, { type Logger } from "pino";
import { DirectCatalog } from "../direct/catalog";
import { DirectResponder } from "../direct/responder";
import { skynodeRequestTypes } from "../direct/types";
import { LogFile } from "./log-file";
import type { Config } from "../config/schema";
import type { CommandRecord, CommandResult, TaskRecord, TaskSpec } from "../protocol";
import { ImageRetention } from "../store/image-retention";
import { ImageIndex } from "../store/images";
import { Outbox } from "../store/outbox";
import { StorageMonitor } from "../store/storage-status";
import { TaskStore } from "../store/tasks";
import { WriteBehind } from "../store/write-behind";
import { Automation } from "./automation";
import { Constraints } from "./constraints";
import { Executor, type Handlers } from "./executor";
import { autofocusHandler } from "./handlers/autofocus";
import { cameraHandlers } from "./handlers/camera";
import { leaseHandlers } from "./handlers/leases";
import { mountHandlers } from "./handlers/mount";
import { positionerHandlers } from "./handlers/positioners";
import { HubLink, type LinkOutbox, type QueuedFrame } from "./hub-link";
import { ImageWriter } from "./image-writer";
import { LeaseKeeper } from "./lease-keeper";
import { logForwarder } from "./log-forwarder";
import { SnapshotPublisher } from "./snapshots";
import { Telescope } from "./telescope";

export interface SkyNodeOptions {
  config: Config;
  dataDir: string;
  db: Database;
  token: () => string;
  logLevel?: string;
}

/** How often retention runs after the pass at start-up. */
const RETENTION_INTERVAL_MS = 3_600_000;
const GB = 1024 ** 3;

/** The SkyNode (DESIGN.md §1): the telescope, its command executor, leases, automation, constraints and snapshots,
 * attached to a hub through the same WebSocket path an external SkyNode uses. */
export class SkyNode {
  readonly telescope: Telescope;
  readonly automation: Automation;
  readonly images: ImageIndex;
  readonly log: Logger;
  /** Answers direct requests for this telescope (image.fetch, image.list, image.preview, log.export). */
  readonly direct: DirectResponder;
  private readonly logFile: LogFile;
  private readonly link: HubLink;
  private readonly executor: Executor;
  private readonly leases: LeaseKeeper;
  private readonly constraints: Constraints;
  private readonly snapshots: SnapshotPublisher;
  private readonly writes: WriteBehind;
  private readonly storage: StorageMonitor;
  private readonly writer: ImageWriter;
  private readonly imageRetention: ImageRetention;
  private constraintTimer: ReturnType<typeof setInterval> | undefined;
  private retentionTimer: ReturnType<typeof setInterval> | undefined;
  private hubUrl = "";
  private upstream: Record<string, unknown> | null = null;

  constructor(opts: SkyNodeOptions) {
    const { config } = opts;
    const uid = config.telescope.uid;
    const level = opts.logLevel ?? process.env.SKYNODE_LOG_LEVEL ?? "info";
    let forward: (entry: import("../protocol").LogEntry) => void = () => {};
    const stderr = pino.destination({ fd: 2, sync: false });
    // A closed or broken stderr (EPIPE) leaves nowhere to say so; it must not become an uncaught exception either.
    stderr.on("error", () => {});
    this.logFile = new LogFile(opts.dataDir, (state) => {
      if (state.ok) this.log.info({ dropped_lines: state.dropped }, "the log file takes writes again");
      else this.log.warn({ error: state.error }, "the log file cannot be written: its lines are dropped (stderr and the hub still get them) until it can");
    });
    this.log = pino(
      { level, base: { app: "skynode", telescope_uid: uid } },
      pino.multistream([
        { level: level as pino.Level, stream: stderr },
        { level: "info", stream: this.logFile.stream },
        { level: "info", stream: logForwarder((entry) => forward(entry)) },
      ]),
    );
    // The link logs locally only: a refused log publish must not be forwarded (and refused) again, forever.
    const linkLog = pino({ level, base: { app: "skynode", telescope_uid: uid } }, stderr);
    this.telescope = new Telescope(config, this.log);
    // Before any store: they write through this one, in order, and it reports the storage's health.
    this.writes = WriteBehind.of(opts.db, this.log);
    this.storage = new StorageMonitor(opts.dataDir, this.writes, config.store.min_free_mb);
    this.images = new ImageIndex(opts.db);
    const outbox = new Outbox(opts.db, uid);
    this.direct = new DirectResponder(
      new DirectCatalog(skynodeRequestTypes, { telescopeUid: uid, images: this.images, log: this.logFile }),
      this.log.child({ part: "direct" }),
    );
    this.leases = new LeaseKeeper(this.log);
    this.link = new HubLink({
      url: () => this.hubUrl,
      token: opts.token,
      telescopeUid: uid,
      outbox: resultQueue(outbox, uid),
      log: linkLog,
      onCommand: (record) => this.onCommand(record),
      onCancel: (id) => this.executor.cancel(id),
      onLease: (lease) => this.leases.observe(lease),
      onConnected: () => this.snapshots.republish(),
      onLeaseSynced: () => this.automation.enable(),
      direct: this.direct,
    });
    forward = (entry) => this.link.publish("publish_telescope_log", { entry });
    this.imageRetention = new ImageRetention(this.images, {
      keepDays: config.images.keep_days,
      maxTotalBytes: config.images.max_total_gb * GB,
      log: this.log.child({ part: "retention" }),
    });
    const writer = (this.writer = new ImageWriter(opts.dataDir, this.telescope, this.images, this.writes, this.log.child({ part: "images" }), () => {
      // The size cap holds after every new image, not only at the hourly pass.
      if (config.images.max_total_gb > 0) this.runRetention(this.imageRetention);
    }));
    const diskShortage = () => this.storage.shortage();
    const tracked = () => this.automation?.nextTarget() ?? this.telescope.mount.target()?.resolved ?? null;
    this.constraints = new Constraints(this.telescope, tracked);
    const blocker = () => this.constraints.exposureBlocker();
    const handlers: Handlers = {
      ...mountHandlers(this.telescope),
      ...positionerHandlers(this.telescope),
      ...cameraHandlers(this.telescope, writer, blocker, diskShortage),
      ...autofocusHandler(this.telescope, blocker, diskShortage),
      ...leaseHandlers(this.leases, config.telescope.max_lease_s, {
        pauseAutomation: () => this.automation.pause("manual control lease acquired"),
        stopAll: (reason) => this.stopAll(reason),
      }),
    };
    this.executor = new Executor(
      handlers,
      (result) => {
        outbox.done(result);
        this.link.send(resultFrame(uid, result));
      },
      outbox,
      this.log,
    );
    this.automation = new Automation(this.telescope, this.executor, new TaskStore(opts.db, uid), writer, this.leases, this.constraints, this.log.child({ part: "automation" }), {
      maxQueuedTasks: config.automation.max_queued_tasks,
      diskShortage,
    });
    this.snapshots = new SnapshotPublisher(this.telescope, this.link, this.leases, this.constraints, this.automation, writer, () => this.upstream, () =>
      this.storage.status(),
    );
    this.writes.onChange(() => this.snapshots.soon());
    this.leases.changed.on(() => this.automation.kick());
    this.constraints.changed.on(() => this.onConditions());
  }

  /** Attaches to the hub at `hubUrl`: the appliance's own (`ws://127.0.0.1:PORT`) or an upstream one. */
  start(hubUrl: string): void {
    this.hubUrl = hubUrl;
    this.constraints.refresh();
    this.constraintTimer = setInterval(() => this.constraints.refresh(), this.telescope.config.constraints.interval_s * 1000);
    this.snapshots.start();
    this.link.start();
    this.automation.start(this.telescope.config.constraints.interval_s * 1000);
    this.checkStorage().catch((err) => this.log.error({ err }, "start-up storage check failed"));
    this.retentionTimer = setInterval(() => {
      this.runRetention(this.imageRetention);
    }, RETENTION_INTERVAL_MS);
    this.retentionTimer.unref();
    this.log.info({ hub: hubUrl }, "SkyNode started");
  }

  /** Both sockets to the hub are open. */
  get attached(): boolean {
    return this.link.connected;
  }

  /** Stops motion safely (every device decelerates to a stop) and detaches from the hub. */
  async stop(): Promise<void> {
    clearInterval(this.constraintTimer);
    clearInterval(this.retentionTimer);
    this.automation.stop();
    await Promise.race([this.stopAll("shutting down"), Bun.sleep(10_000)]);
    this.telescope.mount.stopTracking();
    this.snapshots.stop();
    this.leases.stop();
    this.link.stop();
    await this.telescope.devices.close();
    // The store is flushed: one last try at what waits in memory (the database closes after this).
    this.writer.close();
    this.writes.close();
    this.logFile.close();
  }

  /** The appliance's link to an upstream hub changed state (app/federation): the telescope snapshot shows it. */
  reportUpstream(status: Record<string, unknown> | null): void {
    this.upstream = status;
    this.snapshots.soon();
  }

  // The REST task API (app/server) calls these.
  addTask(spec: TaskSpec): TaskRecord {
    return this.automation.add(spec);
  }

  /** Simulated weather and roof inputs. */
  setInputs(inputs: { weather_safe?: boolean; roof_open?: boolean }): { weather_safe: boolean; roof_open: boolean } {
    Object.assign(this.telescope.inputs, inputs);
    this.log.info({ inputs: this.telescope.inputs }, "environment inputs changed");
    this.constraints.refresh();
    return { ...this.telescope.inputs };
  }

  private onCommand(record: CommandRecord): void {
    if (record.telescope_uid !== this.telescope.uid) return;
    this.executor.submit(record);
  }

  /** Unsafe weather or a closed roof: stop the automation and any exposure in progress; safe again: resume. */
  private onConditions(): void {
    const blocker = this.constraints.exposureBlocker();
    if (blocker) {
      this.automation.pause(blocker).catch((err) => this.log.error({ err }, "could not pause the automation"));
      const camera = this.executor.holder("camera");
      if (camera) camera.cancel(`stopped: ${blocker}`).catch((err) => this.log.error({ err }, "could not stop the exposure"));
    }
    this.automation.kick();
  }

  /** Start-up: leftovers of interrupted image writes, then a first retention pass. */
  private async checkStorage(): Promise<void> {
    await this.writer.check();
    await this.imageRetention.run();
  }

  private runRetention(r: { run(): Promise<number> }): void {
    r.run().catch((err) => this.log.error({ err }, "retention pass failed"));
  }

  private async stopAll(reason: string): Promise<string[]> {
    const moving = this.executor.running().flatMap((r) => r.devices);
    await this.executor.stopAll(reason);
    await this.telescope.mount.stop();
    const d = this.telescope.devices;
    await Promise.all([d.focuser.stop(reason), d.rotator.stop(reason), d.filterWheel.stop(reason), d.camera.abort(reason)]);
    return [...new Set(moving)];
  }
}

/** The SkyNode's outbox as the link's queue: finished results until the hub acknowledges them. */
function resultQueue(outbox: Outbox, telescopeUid: string): LinkOutbox {
  return {
    pending: () => outbox.entries().flatMap((e) => (e.state === "done" && e.result ? [resultFrame(telescopeUid, e.result)] : [])),
    acknowledged: (id) => {
      if (outbox.lookup(id)?.state === "done") outbox.acknowledged(id);
    },
    refused: (id) => {
      if (outbox.lookup(id)?.state === "done") outbox.acknowledged(id);
    },
  };
}

function resultFrame(telescopeUid: string, result: CommandResult): QueuedFrame {
  return { id: result.command_id, endpoint: "commands", frame: { kind: "publish_command_result", telescope_uid: telescopeUid, result } };
}
