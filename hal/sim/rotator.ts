import type { Rotator } from "../rotator";
import { SimPositioner } from "./positioner";

/** A simulated rotator: a positioner in degrees within its cable-limited range. */
export class SimRotator extends SimPositioner implements Rotator {}
