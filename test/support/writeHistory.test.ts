import { describe, expect, it } from 'vitest';
import { judge, WriteHistory, type Span } from './writeHistory.ts';

const span = (instance: string, sentAt: number, answeredAt: number): Span => ({ instance, sentAt, answeredAt, phase: 'test' });
const is = (name: string) => (state: { name: string } | null) => state?.name === name;

describe('judge', () => {
  // v0 before the run; "b" written on A over 10..20, "c" written on B over 30..40.
  const history = new WriteHistory().initial('Product:1', { name: 'a' });
  history.record('Product:1', { name: 'b' }, 'update', span('A', 10, 20));
  history.record('Product:1', { name: 'c' }, 'update', span('B', 30, 40));
  const versions = history.versions<{ name: string }>('Product:1');

  it('a read of the last answered value is fresh', () => {
    expect(judge(versions, span('B', 50, 60), is('c'))).toEqual({ kind: 'fresh' });
  });

  it('a read that started before the newer write was answered may show the older value', () => {
    expect(judge(versions, span('A', 35, 45), is('b'))).toEqual({ kind: 'fresh' });
  });

  it('a write in flight may be shown, but not one sent after the read was answered', () => {
    expect(judge(versions, span('A', 25, 35), is('c'))).toEqual({ kind: 'fresh' });
    expect(judge(versions, span('A', 25, 29), is('c'))).toEqual({ kind: 'phantom' });
  });

  it('an older value after the newer write was answered is stale, with its age and the instance that wrote', () => {
    const onOther = judge(versions, span('A', 1040, 1050), is('b'));
    expect(onOther).toMatchObject({ kind: 'stale', ownInstance: false, ageMs: 1000, supersededBy: { write: 2, instance: 'B' } });
    const onWriter = judge(versions, span('B', 41, 50), is('b'));
    expect(onWriter).toMatchObject({ kind: 'stale', ownInstance: true, ageMs: 1 });
    // Superseded twice: aged from the first write that superseded it, blamed on the writer's own one.
    expect(judge(versions, span('B', 100, 110), is('a'))).toMatchObject({ kind: 'stale', ownInstance: true, ageMs: 80, supersededBy: { write: 2 } });
  });

  it('writes that overlap have no order: either value is fresh', () => {
    const overlapping = new WriteHistory().initial('Product:2', { name: 'a' });
    overlapping.record('Product:2', { name: 'x' }, 'update', span('A', 10, 30));
    overlapping.record('Product:2', { name: 'y' }, 'update', span('B', 20, 40));
    const both = overlapping.versions<{ name: string }>('Product:2');
    expect(judge(both, span('A', 50, 60), is('x'))).toEqual({ kind: 'fresh' });
    expect(judge(both, span('A', 50, 60), is('y'))).toEqual({ kind: 'fresh' });
    expect(judge(both, span('A', 50, 60), is('a')).kind).toBe('stale');
  });

  it('equal states are judged by the least stale of them', () => {
    const repeated = new WriteHistory().initial('Product:3', { name: 'a' });
    repeated.record('Product:3', { name: 'b' }, 'update', span('A', 10, 20));
    repeated.record('Product:3', { name: 'a' }, 'update', span('A', 30, 40));
    expect(judge(repeated.versions<{ name: string }>('Product:3'), span('B', 50, 60), is('a'))).toEqual({ kind: 'fresh' });
  });

  it('a value no version had is a phantom, and an unknown item has none', () => {
    expect(judge(versions, span('A', 50, 60), is('z'))).toEqual({ kind: 'phantom' });
    expect(judge(history.versions('Product:9'), span('A', 50, 60), () => true)).toEqual({ kind: 'phantom' });
  });

  it("a parent's deletion deletes the item that cascades from it", () => {
    const catalog = new WriteHistory().initial('Product:4', { name: 'p' }).initial('Review:7', { productId: 4 }, { cascadeFrom: 'Product:4' });
    catalog.record('Product:4', null, 'delete', span('A', 10, 20));
    const review = catalog.versions<{ productId: number }>('Review:7');
    expect(judge(review, span('B', 30, 40), (state) => state === null)).toEqual({ kind: 'fresh' });
    expect(judge(review, span('B', 30, 40), (state) => state !== null)).toMatchObject({ kind: 'stale', ageMs: 10 });
    expect(catalog.latest('Review:7')).toBeNull();
  });
});
