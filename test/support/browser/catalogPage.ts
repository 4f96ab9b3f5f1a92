import { ApolloClient, ApolloLink, gql, HttpLink, InMemoryCache } from '@apollo/client';
import { SetContextLink } from '@apollo/client/link/context';
import { createPersistedQueryLink } from '@apollo/client/link/persisted-queries';

/**
 * A tiny catalog frontend, bundled by esbuild and run in real Chromium: Apollo Client 4 with
 * automatic persisted queries over GET (so its reads go through the browser's HTTP cache, as a
 * real app's do), a Bearer token kept in localStorage, and the page's text as its only output.
 * The tests drive it through `globalThis.catalog`, as a user would through buttons.
 *
 * Browser code: it is typechecked with the project's Node types, so it names the few browser
 * globals it uses through {@link BrowserGlobals} instead of the DOM library.
 */

/** What the tests call in the page. Each call returns once the page shows its outcome. */
export interface CatalogPage {
  /** Signs in: the token goes to localStorage, and from there into every request. */
  logIn(token: string): void;
  /** Signs out: forgets the token and everything Apollo Client holds. */
  logOut(): Promise<void>;
  /** Shows `#product`: "<id> <name>", or "error: <message>" in `#error`. */
  showProduct(id: string, fetchPolicy: FetchPolicy): Promise<void>;
  /** Renames the product through `updateProduct` (the signed-in viewer must be an admin). */
  renameProduct(id: string, name: string): Promise<void>;
  /** Shows `#viewer`: "<id> <name> <email>", or "anonymous". */
  showViewer(fetchPolicy: FetchPolicy): Promise<void>;
}

export type FetchPolicy = 'cache-first' | 'network-only';

/** The browser globals the page uses. Its API is `?api=<url>` for one on another origin, else `/graphql` on its own. */
interface BrowserGlobals {
  readonly location: { readonly search: string };
  readonly localStorage: { getItem(key: string): string | null; setItem(key: string, value: string): void; removeItem(key: string): void };
  readonly document: { getElementById(id: string): { textContent: string | null } | null };
  catalog?: CatalogPage;
}

const browser = globalThis as unknown as BrowserGlobals;
const TOKEN_KEY = 'catalog.token';

const PRODUCT = gql`
  query Product($id: ID!) {
    product(id: $id) {
      id
      name
    }
  }
`;
const RENAME = gql`
  mutation Rename($id: ID!, $name: String!) {
    updateProduct(id: $id, input: { name: $name }) {
      id
      name
    }
  }
`;
const VIEWER = gql`
  query Viewer {
    me {
      id
      name
      email
    }
  }
`;

// Read for every request, so signing in or out takes effect on the next one.
const authorization = new SetContextLink((previous) => {
  const token = browser.localStorage.getItem(TOKEN_KEY);
  // A GET must carry one of Apollo's preflight headers, or the server's CSRF prevention refuses it.
  return { headers: { ...previous.headers, 'apollo-require-preflight': 'true', ...(token ? { authorization: `Bearer ${token}` } : {}) } };
});
const persisted = createPersistedQueryLink({ sha256, useGETForHashedQueries: true });
const uri = new URLSearchParams(browser.location.search).get('api') ?? '/graphql';
const client = new ApolloClient({ link: ApolloLink.from([authorization, persisted, new HttpLink({ uri })]), cache: new InMemoryCache() });

browser.catalog = {
  logIn(token) {
    browser.localStorage.setItem(TOKEN_KEY, token);
  },
  async logOut() {
    browser.localStorage.removeItem(TOKEN_KEY);
    // What a real app does on sign-out: nothing the previous viewer saw may be shown again.
    await client.clearStore();
    show('viewer', '');
  },
  async showProduct(id, fetchPolicy) {
    await outcome(async () => {
      const { data } = await client.query<{ product: { id: string; name: string } | null }>({ query: PRODUCT, variables: { id }, fetchPolicy });
      show('product', data?.product ? `${data.product.id} ${data.product.name}` : 'none');
    });
  },
  async renameProduct(id, name) {
    await outcome(async () => {
      await client.mutate({ mutation: RENAME, variables: { id, name } });
    });
  },
  async showViewer(fetchPolicy) {
    await outcome(async () => {
      const { data } = await client.query<{ me: { id: string; name: string; email: string | null } | null }>({ query: VIEWER, fetchPolicy });
      show('viewer', data?.me ? `${data.me.id} ${data.me.name} ${data.me.email ?? ''}`.trim() : 'anonymous');
    });
  },
};

async function outcome(run: () => Promise<void>): Promise<void> {
  show('error', '');
  try {
    await run();
  } catch (error) {
    show('error', `error: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function show(id: string, text: string): void {
  const element = browser.document.getElementById(id);
  if (element) element.textContent = text;
}

/** The persisted query's hash, with the browser's own Web Crypto (the page is a secure context: loopback). */
async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}
