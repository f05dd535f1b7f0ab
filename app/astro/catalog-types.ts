/** Shapes of the built-in catalog, kept apart so the data files and the lookup code can both import them. */

export type CatalogKind =
  | "star"
  | "double_star"
  | "galaxy"
  | "nebula"
  | "planetary_nebula"
  | "open_cluster"
  | "globular_cluster"
  | "star_cloud"
  | "asterism";

export interface CatalogEntry {
  /** Canonical name: "M31" for Messier objects, the IAU proper name for stars. */
  name: string;
  aliases?: string[];
  /** J2000 mean position, degrees. */
  ra_deg: number;
  dec_deg: number;
  /** Visual magnitude (integrated, for extended objects). */
  mag: number;
  kind: CatalogKind;
}
