/** A write request that cannot be done for a reason the caller should hear about (writer thread). */

import type { WriteFailure } from './protocol.ts';

export class RequestFailure extends Error {
  readonly failure: WriteFailure;
  constructor(failure: WriteFailure, message: string) {
    super(message);
    this.failure = failure;
  }
}
