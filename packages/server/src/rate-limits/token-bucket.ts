// A token bucket: bursts are fine, floods get 6000005 instead of service.
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly capacity: number,
    private readonly perSecond: number,
    now: number,
  ) {
    this.tokens = capacity;
    this.updatedAt = now;
  }

  private refill(now: number): number {
    return Math.min(this.capacity, this.tokens + ((now - this.updatedAt) / 1000) * this.perSecond);
  }

  take(now: number): boolean {
    this.tokens = this.refill(now);
    this.updatedAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Whether the bucket has refilled by `now`, so a fresh one would be the same. */
  isFull(now: number): boolean {
    return this.refill(now) >= this.capacity;
  }
}
