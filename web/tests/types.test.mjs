// The API types in src/api-schema.d.ts are generated from docs/openapi.json;
// this fails when the contract changed and the types were not regenerated.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const web = join(dirname(fileURLToPath(import.meta.url)), '..')

test('src/api-schema.d.ts is generated from the current docs/openapi.json', () => {
  const dir = mkdtempSync(join(tmpdir(), 'krv-types-'))
  try {
    const out = join(dir, 'schema.d.ts')
    const r = spawnSync(join(web, 'node_modules/.bin/openapi-typescript'), [join(web, '../docs/openapi.json'), '-o', out], {
      cwd: web,
      encoding: 'utf8',
    })
    assert.equal(r.status, 0, `openapi-typescript failed: ${r.stderr}${r.stdout}`)
    const fresh = readFileSync(out, 'utf8')
    const committed = readFileSync(join(web, 'src/api-schema.d.ts'), 'utf8')
    assert.ok(
      fresh === committed,
      'web/src/api-schema.d.ts is out of date with docs/openapi.json.\n' +
        'Regenerate it with:  cd web && npm run types   (then commit web/src/api-schema.d.ts and fix any type errors)',
    )
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
