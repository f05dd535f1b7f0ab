import { ConfigSchema, type Config } from "./schema";

export class ConfigError extends Error {}

/** Parses and validates a TOML config; errors name the offending key (`mount.baud: expected int`). */
export function parseConfig(tomlText: string, source = "config"): Config {
  let raw: unknown;
  try {
    raw = Bun.TOML.parse(tomlText);
  } catch (err) {
    throw new ConfigError(`${source}: not valid TOML: ${(err as Error).message}`);
  }
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".") || "(top level)"}: ${i.message}`);
    throw new ConfigError(`${source} is invalid:\n${lines.join("\n")}`);
  }
  return parsed.data;
}

export async function loadConfig(path: string | undefined): Promise<Config> {
  if (!path) return ConfigSchema.parse({});
  const file = Bun.file(path);
  if (!(await file.exists())) throw new ConfigError(`config file not found: ${path}`);
  return parseConfig(await file.text(), path);
}
