/**
 * The simulator's notion of "now". Tests move it forward (change-tracking token expiry, service protection windows)
 * instead of sleeping; modifiedon, createdon and webhook OperationCreatedOn all read it.
 */
export class SimClock {
  private offsetMs = 0;
  private frozenAt: number | undefined;

  now(): number {
    return this.frozenAt ?? Date.now() + this.offsetMs;
  }

  /** Moves time forward (or back, with a negative value). */
  advance(ms: number): void {
    if (this.frozenAt !== undefined) this.frozenAt += ms;
    else this.offsetMs += ms;
  }

  /** Pins the clock to an instant until `unfreeze`. */
  set(ms: number): void {
    this.frozenAt = ms;
  }

  unfreeze(): void {
    if (this.frozenAt !== undefined) this.offsetMs = this.frozenAt - Date.now();
    this.frozenAt = undefined;
  }

  reset(): void {
    this.offsetMs = 0;
    this.frozenAt = undefined;
  }

  get frozen(): boolean {
    return this.frozenAt !== undefined;
  }

  /** Dataverse stores date-times to the second: `2016-09-28T22:57:53Z`. */
  isoNow(): string {
    return toDataverseDateTime(this.now());
  }
}

export function toDataverseDateTime(ms: number): string {
  return `${new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19)}Z`;
}
