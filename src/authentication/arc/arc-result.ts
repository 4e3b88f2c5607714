/** What ARC chain validation (RFC 8617) reports. */

/** RFC 8617 §4.4: the chain validation status. */
export type ArcResultCode = 'none' | 'pass' | 'fail';

export interface ArcResult {
  result: ArcResultCode;
  /** The highest instance (i=) of the chain; 0 when there is none. */
  instance: number;
  /** d= of each ARC-Seal, by instance: sealers[0] sealed i=1. Empty unless the chain passed. */
  sealers: string[];
  /**
   * The Authentication-Results the first sealer recorded (its ARC-Authentication-Results, RFC 8617
   * §4.1.1), when the chain passed: what a trusted forwarder saw before it changed the message.
   */
  originalResults?: string;
  reason: string;
}
