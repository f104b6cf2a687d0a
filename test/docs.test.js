'use strict';
// The documentation's links hold: every relative link in README.md, CONTRIBUTING.md and
// docs/*.md names a file of this repository, and every #anchor a heading of that file,
// spelt as GitHub makes anchors of headings.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const PAGES = [
  'README.md',
  'CONTRIBUTING.md',
  ...fs
    .readdirSync(path.join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** The page without its fenced code blocks, where neither links nor headings are. */
function withoutBlocks(text) {
  return text.replace(/^```[\s\S]*?^```$/gm, '');
}

/** ... and without inline code, where brackets are not links either. */
function prose(text) {
  return withoutBlocks(text).replace(/`[^`\n]*`/g, '');
}

/** GitHub's anchor for each heading: lower case, punctuation dropped, spaces as hyphens, repeats numbered. */
function anchors(text) {
  const seen = new Map();
  const result = new Set();
  for (const [, heading] of withoutBlocks(text)
    .replace(/`([^`\n]*)`/g, '$1')
    .matchAll(/^#{1,6} +(.+?) *$/gm)) {
    const slug = heading
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    result.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return result;
}

/** [text](target) links of a page that point inside the repository. */
function relativeLinks(text) {
  return [...prose(text).matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]).filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t));
}

describe('documentation links', function () {
  it('GitHub anchors are made as this test makes them', function () {
    const page = '# A `code` title: with (punctuation), twice\n## Files that turn over (`-C`, `-G`, `-W`)\n## Twice\n## Twice\n';
    assert.deepEqual([...anchors(page)], ['a-code-title-with-punctuation-twice', 'files-that-turn-over--c--g--w', 'twice', 'twice-1']);
    assert.deepEqual([...anchors('```sh\n# a comment, not a heading\n```\n# Real\n')], ['real']);
    assert.deepEqual(relativeLinks('[a](b.md#c) [web](https://x.org/) `[not](x.md)` [d](#e)'), ['b.md#c', '#e']);
  });

  for (const page of PAGES) {
    it(`${page}: every relative link and anchor resolves`, function () {
      const text = fs.readFileSync(path.join(ROOT, page), 'utf8');
      const broken = [];
      for (const link of relativeLinks(text)) {
        const [file, anchor] = link.split('#');
        const target = file ? path.join(ROOT, path.dirname(page), file) : path.join(ROOT, page);
        if (!fs.existsSync(target)) broken.push(`${link}: no ${path.relative(ROOT, target)}`);
        else if (anchor !== undefined && !anchors(fs.readFileSync(target, 'utf8')).has(anchor)) {
          broken.push(`${link}: no heading #${anchor} in ${path.relative(ROOT, target)}`);
        }
      }
      assert.deepEqual(broken, []);
    });
  }
});
