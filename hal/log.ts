/** The logging the HAL needs (pino's Logger fits it); hal never imports the app's logger. */
export interface HalLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** For devices built without a logger (unit tests, simulators). */
export const silentLog: HalLog = { info() {}, warn() {}, error() {} };
