// Invalidation propagation between instances: a write on A, then how long until B, which held the
// old value in its L2, serves the new one. B's L2 is warmed before every write, so what is timed is
// the invalidation reaching B over pub/sub, not a miss.
import { benchAdminToken, postGraphQL } from './graphqlRequest.ts';
import { formatColumns, ms } from './report.ts';
import { warnings } from './serverLogs.ts';
import { log, startServers, stopAll, type BenchContext, type Section } from './section.ts';
import { distribution, type Distribution } from './stats.ts';

const READ = `query($id: ID!) { product(id: $id) { name } }`;
const RENAME = `mutation($id: ID!, $input: UpdateProductInput!) { updateProduct(id: $id, input: $input) { name } }`;
/** The two names the writes alternate between. */
const NAMES = ['Propagation even', 'Propagation odd'] as const;
/** A write B has not seen after this long counts as lost, and the run goes on. */
const GIVE_UP_MS = 2000;

export interface PropagationResult {
  writes: number;
  /** Milliseconds from A's response to the write to B's first response with the new value. */
  delayMs: Distribution;
  /** A warm L2 read on B, for scale: every delay includes at least one such round trip. */
  warmReadMs: Distribution;
  /** Writes whose first read on B was already fresh. */
  freshAtFirstPoll: number;
  meanPolls: number;
  /** Writes B still had not seen after {@link GIVE_UP_MS}. */
  lost: number;
  warnings: string[];
}

type ProductName = { product: { name: string } };

export const propagationSection: Section = {
  name: 'propagation',
  title: 'Invalidation propagation: write on A, until B (L2 warm with the old value) serves the new value',
  report: 'write-path',
  budgetMs: (params) => 60_000 + params.propagationWrites * 60,
  async run(context) {
    const result = await measure(context);
    return {
      table: formatTable(result),
      report: result,
      problems: result.lost > 0 ? [`propagation: B never served ${result.lost} of ${result.writes} writes within ${GIVE_UP_MS} ms`] : [],
    };
  },
};

async function measure(context: BenchContext): Promise<PropagationResult> {
  const writes = context.params.propagationWrites;
  // The last seeded product: not on the read path's page, not used by the other sections.
  const id = String(context.params.products);
  log('propagation: starting servers A and B (CACHE_TIERS=l1,l2,l3, one prefix)');
  const servers = await startServers(context, 2, { cachePrefix: context.keyspace.subPrefix('propagation') }, { captureLogs: true });
  const [a, b] = servers as [(typeof servers)[0], (typeof servers)[0]];
  const readB = async () => (await postGraphQL<ProductName>(b.url, READ, { id })).product.name;
  const delays: number[] = [];
  const warmReads: number[] = [];
  let polls = 0;
  let freshAtFirstPoll = 0;
  let lost = 0;
  const admin = await benchAdminToken();
  try {
    log(`propagation: ${writes} writes on A, each awaited on B`);
    for (let i = 0; i < writes; i++) {
      const name = NAMES[i % 2] as string;
      // B holds the old value in L2: the first read may come from L3, the second is L2's.
      await readB();
      const warmStarted = performance.now();
      const before = await readB();
      warmReads.push(performance.now() - warmStarted);
      if (before === name) throw new Error(`B served "${name}" before write ${i} wrote it`);
      await postGraphQL(a.url, RENAME, { id, input: { name } }, admin);
      const answered = performance.now();
      for (let poll = 1; ; poll++) {
        const seen = await readB();
        const elapsed = performance.now() - answered;
        if (seen === name) {
          delays.push(elapsed);
          polls += poll;
          if (poll === 1) freshAtFirstPoll += 1;
          break;
        }
        if (elapsed > GIVE_UP_MS) {
          lost += 1;
          break;
        }
      }
    }
  } finally {
    await stopAll(servers);
  }
  return {
    writes,
    delayMs: distribution(delays),
    warmReadMs: distribution(warmReads),
    freshAtFirstPoll,
    meanPolls: delays.length > 0 ? polls / delays.length : Number.NaN,
    lost,
    warnings: warnings(servers.flatMap((server) => server.logs)),
  };
}

function formatTable(r: PropagationResult): string {
  const header = ['measure', 'count', 'p50 ms', 'p99 ms', 'max ms'];
  const rows = [
    ['A answered -> B serves the new value', String(r.delayMs.count), ms(r.delayMs.p50), ms(r.delayMs.p99), ms(r.delayMs.max)],
    ['one warm (L2) read on B, for scale', String(r.warmReadMs.count), ms(r.warmReadMs.p50), ms(r.warmReadMs.p99), ms(r.warmReadMs.max)],
  ];
  return [
    formatColumns(header, rows, 1),
    `fresh at B's first read: ${r.freshAtFirstPoll} of ${r.writes} writes (${((100 * r.freshAtFirstPoll) / r.writes).toFixed(1)}%); reads per write until fresh: ${r.meanPolls.toFixed(2)}; never fresh within ${GIVE_UP_MS} ms: ${r.lost}`,
    ...(r.freshAtFirstPoll === r.writes
      ? ['B was fresh at its first read after every write: A publishes the invalidation before it answers, so the delay is at most one read on B (an L2 miss after the invalidation, answered by L3), not a wait.']
      : []),
    `warnings: ${r.warnings.length === 0 ? 'none' : r.warnings.join('; ')}`,
  ].join('\n');
}
