import { describe, expect, it } from 'vitest';
import { clientAddress } from '../../../src/limits/rateLimit/clientAddress.ts';

describe('clientAddress', () => {
  it('is the connection address when no proxy is trusted, whatever X-Forwarded-For says', () => {
    expect(clientAddress('10.0.0.9', '1.2.3.4', 0)).toBe('10.0.0.9');
    expect(clientAddress('::ffff:10.0.0.9', undefined, 0)).toBe('10.0.0.9');
    expect(clientAddress('2001:db8::1', undefined, 0)).toBe('2001:db8::1');
    expect(clientAddress(undefined, undefined, 0)).toBe('unknown');
  });

  it('reads the entry that many hops back, never one the client wrote further left', () => {
    // client 203.0.113.7 (wrote a fake 6.6.6.6) -> proxy A (10.0.0.1) -> proxy B (10.0.0.2, the connection)
    expect(clientAddress('10.0.0.2', '6.6.6.6, 203.0.113.7, 10.0.0.1', 2)).toBe('203.0.113.7');
    expect(clientAddress('10.0.0.1', '6.6.6.6, 203.0.113.7', 1)).toBe('203.0.113.7');
    // Several headers are one list.
    expect(clientAddress('10.0.0.2', ['6.6.6.6', '203.0.113.7, 10.0.0.1'], 2)).toBe('203.0.113.7');
  });

  it('uses the leftmost entry when the request came through fewer proxies, and the connection without the header', () => {
    expect(clientAddress('10.0.0.1', '203.0.113.7', 3)).toBe('203.0.113.7');
    expect(clientAddress('10.0.0.1', undefined, 1)).toBe('10.0.0.1');
  });

  it('bounds what a proxy passes on', () => {
    expect(clientAddress('10.0.0.1', 'x'.repeat(1000), 1)).toHaveLength(64);
  });
});
