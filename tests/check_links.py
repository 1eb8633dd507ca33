#!/usr/bin/env python3
"""Every relative link in README.md, BENCHMARKS.md, deploy/README.md and docs/ resolves to a file
git tracks inside the repository, and every #anchor to a heading of the file it names (GitHub's
slugs). Run from the repository root; tests/run runs it. Exit 0 when none is broken."""
import re, os, sys, subprocess
files = ['README.md', 'BENCHMARKS.md', 'deploy/README.md'] + sorted(subprocess.run(['git','ls-files','-co','--exclude-standard','docs'],capture_output=True,text=True).stdout.split())
files = [f for f in files if f.endswith('.md')]
tracked = set(subprocess.run(['git','ls-files','-co','--exclude-standard'],capture_output=True,text=True).stdout.split())
def slug(h):
    h = h.strip().lower()
    h = re.sub(r'[^\w\- ]', '', h)   # GitHub: drop punctuation except - and space
    return h.replace(' ', '-')
def anchors(path):
    out=set(); inside=False
    for line in open(path):
        if line.startswith('```'): inside = not inside; continue
        m = re.match(r'#{1,6} (.*)', line)
        if m and not inside: out.add(slug(m.group(1)))
    return out
bad = 0; n = 0
for f in files:
    text = re.sub(r'```.*?```', '', open(f).read(), flags=re.S)
    for target in re.findall(r'\]\(([^)\s]+)\)', text):
        if re.match(r'[a-z]+://|mailto:', target): continue
        n += 1
        path, _, frag = target.partition('#')
        dest = os.path.normpath(os.path.join(os.path.dirname(f), path)) if path else f
        inside = not dest.startswith('..')
        exists = dest in tracked or (os.path.isdir(dest) and any(t.startswith(dest + '/') for t in tracked))
        ok = inside and exists
        if ok and frag:
            ok = dest.endswith('.md') and frag in anchors(dest)
        if not ok:
            bad += 1; print(f'BROKEN {f}: {target}')
print(f'{n} relative links in {len(files)} files, {bad} broken')
sys.exit(1 if bad else 0)
