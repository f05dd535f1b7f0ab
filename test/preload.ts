// Loaded before every test file (bunfig.toml): after a file's tests, kill the servers a failed test left running.
import { afterAll } from "bun:test";
import { killStrays } from "./helpers/server";

afterAll(() => killStrays());
