import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startAdmin, type AdminHarness, type ApiResponse, type UntypedJson } from '../helpers/harness/index.js';

/** Every page of `path` with `limit`, following next_cursor; the items in order and the page count. */
async function walk(admin: AdminHarness, path: string, limit: number): Promise<{ items: UntypedJson[]; pages: number }> {
  const items: UntypedJson[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const res: ApiResponse = await admin.call('GET', `${path}?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(Object.keys(res.json), ['data', 'next_cursor', 'has_more']);
    assert.equal(res.json.has_more, res.json.next_cursor !== null);
    items.push(...res.json.data);
    cursor = res.json.next_cursor;
    pages++;
    assert.ok(pages <= 100, 'paging ends');
  } while (cursor);
  return { items, pages };
}

/** 260 sandboxes bound to one secret (more than one chunk of the unpaged stream), 260 more secrets. */
async function populated(t: Parameters<typeof startAdmin>[0]) {
  const admin = await startAdmin(t);
  assert.equal(
    (await admin.call('POST', '/secrets', { json: { name: 'shared', value: 'real-shared-value', auth: { type: 'bearer' }, hosts: ['api.example.com'] } }))
      .status,
    201,
  );
  for (let i = 0; i < 260; i++) {
    admin.store.secrets.create({ name: `s-${i}`, value: 'real-value', provider: null, authType: 'bearer', authConfig: {}, hosts: ['api.example.com'] });
    admin.store.sandboxes.create({ name: `sb-${i}`, secrets: { TOKEN: 'shared' }, env_vars: {}, network: { allow_out: [], deny_out: [] }, metadata: {} });
  }
  return admin;
}

test('without limit or cursor a list is the whole bare array, in creation order, across every chunk it is written in', async (t) => {
  const admin = await populated(t);
  const sandboxes = await admin.call('GET', '/sandboxes');
  assert.equal(sandboxes.status, 200);
  assert.match(String(sandboxes.headers['content-type']), /^application\/json/);
  assert.deepEqual(
    sandboxes.json.map((s: { name: string }) => s.name),
    Array.from({ length: 260 }, (_, i) => `sb-${i}`),
  );
  assert.ok(
    sandboxes.json.every((s: { env: { TOKEN: string } }) => s.env.TOKEN.length > 0),
    'each item is the full sandbox, env included',
  );
  const secrets = await admin.call('GET', '/secrets');
  assert.deepEqual(
    secrets.json.map((s: { name: string }) => s.name),
    ['shared', ...Array.from({ length: 260 }, (_, i) => `s-${i}`)],
  );
  const bound = await admin.call('GET', '/secrets/shared/sandboxes');
  assert.equal(bound.json.length, 260);
  assert.deepEqual(Object.keys(bound.json[0]), ['sandbox_id', 'sandbox_name', 'env_key', 'status']);
});

test('limit and cursor page every list: the pages hold exactly the whole list, in order, each item once', async (t) => {
  const admin = await populated(t);
  for (const [path, limit] of [
    ['/sandboxes', 7],
    ['/secrets', 100],
    ['/secrets/shared/sandboxes', 1000],
  ] as const) {
    const whole = (await admin.call('GET', path)).json;
    const { items, pages } = await walk(admin, path, limit);
    assert.deepEqual(items, whole, path);
    assert.equal(pages, Math.ceil(whole.length / limit), path);
  }
  // A cursor alone takes the default page size (100).
  const first = await admin.call('GET', '/secrets?limit=1');
  const next = await admin.call('GET', `/secrets?cursor=${first.json.next_cursor}`);
  assert.equal(next.json.data.length, 100);
  assert.equal(next.json.data[0].name, 's-0');
});

test('a page starts after the last item seen, whatever was deleted or created meanwhile', async (t) => {
  const admin = await populated(t);
  const page1 = await admin.call('GET', '/sandboxes?limit=5');
  // The page's own last item and the one after it go; a new sandbox comes at the end.
  admin.store.sandboxes.delete(page1.json.data[4].id);
  const sb5 = (await admin.call('GET', '/sandboxes')).json.find((s: { name: string }) => s.name === 'sb-5');
  admin.store.sandboxes.delete(sb5.id);
  admin.store.sandboxes.create({ name: 'late', secrets: {}, env_vars: {}, network: { allow_out: [], deny_out: [] }, metadata: {} });
  const page2 = await admin.call('GET', `/sandboxes?limit=5&cursor=${page1.json.next_cursor}`);
  assert.deepEqual(
    page2.json.data.map((s: { name: string }) => s.name),
    ['sb-6', 'sb-7', 'sb-8', 'sb-9', 'sb-10'],
  );
  const rest = await walk(admin, '/sandboxes', 1000);
  assert.equal(rest.items.at(-1).name, 'late');
});

test('bad limit and cursor values are 400 with Superserve-style messages', async (t) => {
  const admin = await startAdmin(t);
  const cases: Array<[string, string]> = [
    ['/sandboxes?limit=0', 'limit must be a positive integer'],
    ['/secrets?limit=abc', 'limit must be a positive integer'],
    ['/secrets?limit=1001', 'limit must be <= 1000'],
    ['/sandboxes?cursor=not-a-cursor', 'cursor must be the next_cursor of a previous page'],
    // A real cursor of another list does not fit this one's key.
    [`/sandboxes?cursor=${Buffer.from('l1:[7]').toString('base64url')}`, 'cursor must be the next_cursor of a previous page'],
  ];
  for (const [path, message] of cases) {
    const res = await admin.call('GET', path);
    assert.equal(res.status, 400, path);
    assert.deepEqual(res.json, { error: { code: 'bad_request', message } }, path);
  }
  // An empty list pages to one empty page.
  assert.deepEqual((await admin.call('GET', '/sandboxes?limit=10')).json, { data: [], next_cursor: null, has_more: false });
  assert.deepEqual((await admin.call('GET', '/sandboxes')).json, []);
});
