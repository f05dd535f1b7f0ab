import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** A process' resident set in bytes (VmRSS). */
export const rssOf = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) * 1024;

/** How many of a process' file descriptors are open on `path`. */
export const openFdsTo = (pid: number, path: string) =>
  readdirSync(`/proc/${pid}/fd`).filter((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`) === path;
    } catch {
      return false;
    }
  }).length;
