import pkg from "../package.json";

/** Set by scripts/build.ts (`define`) in a compiled binary; absent when running from source. */
declare const SKYNODE_BUILD: { version: string; commit: string; target: string } | undefined;

/** What `skynode --version` prints: the package version, the git commit it was built from, and the target. */
export function versionLine(): string {
  const build = typeof SKYNODE_BUILD !== "undefined" ? SKYNODE_BUILD : null;
  if (build) return `skynode ${build.version} (${build.commit}, ${build.target})`;
  return `skynode ${pkg.version} (source, bun ${Bun.version})`;
}
