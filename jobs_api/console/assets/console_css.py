"""The console's style sheet, served as /api/console/console.css (laptop and tablet widths)."""

TEXT = """:root {
  --text: #1b1f24; --muted: #4b5563; --line: #d0d5dd; --back: #f6f7f9; --accent: #0b5cad; --accent-dark: #084a8c;
  --ok: #2e7d32; --bad: #c62828; --error: #a1111b; --focus: #f59e0b;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", sans-serif;
  font-size: 15px; line-height: 1.45; color: var(--text); background: #fff;
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; }
a { color: var(--accent); }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.skip { position: absolute; left: -9999px; top: 0; background: #fff; padding: .5rem 1rem; z-index: 2; }
.skip:focus { left: .5rem; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.top { display: flex; align-items: center; gap: 1.5rem; padding: .6rem 1.25rem; background: #102a43; color: #fff; flex-wrap: wrap; }
.top a { color: #fff; font-weight: 600; }
.brand { font-weight: 700; letter-spacing: .02em; }
.who { margin-left: auto; display: flex; gap: .75rem; align-items: center; font-size: .9rem; }
.who .quiet { color: #fff; border-color: #9fb3c8; background: transparent; }
main { padding: 1rem 1.25rem 3rem; max-width: 1400px; margin: 0 auto; }
main:focus { outline: none; }
h1 { font-size: 1.5rem; margin: .5rem 0 1rem; }
h1:focus { outline: none; }
h2 { font-size: 1.15rem; margin: 1.5rem 0 .5rem; }
button, .button { font: inherit; padding: .4rem .9rem; border: 1px solid var(--line); border-radius: 6px; background: #fff;
  color: var(--text); cursor: pointer; text-decoration: none; display: inline-block; min-height: 2.25rem; }
button:hover, .button:hover { background: var(--back); }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; font-weight: 600; }
button.primary:hover { background: var(--accent-dark); }
button:disabled { opacity: .55; cursor: default; }
button.add { font-size: 1.2rem; font-weight: 700; width: 2.5rem; padding: 0; }
button.quiet, .button.quiet { background: transparent; }
input[type=text], input[type=search], input[type=password], input[type=number], select, textarea { font: inherit; padding: .4rem .5rem;
  border: 1px solid #8a94a3; border-radius: 6px; background: #fff; color: var(--text); width: 100%; max-width: 40rem; }
textarea.code { font-family: ui-monospace, "Cascadia Mono", "DejaVu Sans Mono", monospace; }
[aria-invalid=true] { border-color: var(--error); box-shadow: 0 0 0 1px var(--error); }
label { font-weight: 600; display: block; margin-bottom: .2rem; }
.choice label, .all label, .check-cell label { display: inline; font-weight: 400; margin: 0 0 0 .3rem; }
.field { margin-bottom: .9rem; }
.field.inline { display: flex; align-items: center; gap: .5rem; margin: 0; }
.field.inline label { margin: 0; white-space: nowrap; }
.field.inline select, .field.inline input { width: auto; min-width: 12rem; }
.help { color: var(--muted); font-size: .9rem; margin: .25rem 0 0; }
.field-error { color: var(--error); font-weight: 600; margin: .25rem 0 0; }
.error { color: var(--error); border: 1px solid var(--error); background: #fdf2f2; border-radius: 6px; padding: .5rem .9rem; margin: .5rem 0 1rem; }
.error .headline { font-weight: 700; margin: .2rem 0; }
.error ul { margin: .3rem 0; padding-left: 1.2rem; }
.error .meta { color: #6b1a20; font-size: .85rem; margin: .2rem 0; }
.flash { background: #e4f4e8; border: 1px solid #8cc59a; color: #14532d; border-radius: 6px; padding: .5rem .9rem; }
fieldset { border: 1px solid var(--line); border-radius: 6px; padding: .6rem .9rem .8rem; margin: 0 0 .9rem; max-width: 40rem; }
legend { font-weight: 600; padding: 0 .3rem; }
.types .choice { margin-right: 1.2rem; white-space: nowrap; }
ol.operations { list-style: none; padding: 0; margin: 0; }
fieldset.operation { border-style: dashed; }
.toolbar { display: flex; flex-wrap: wrap; gap: .75rem 1.25rem; align-items: center; margin-bottom: .75rem; }
.actions { display: flex; flex-wrap: wrap; gap: .6rem; margin: .75rem 0; }
.summary { color: var(--muted); margin: .3rem 0 .5rem; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid var(--line); vertical-align: middle; }
thead th { background: var(--back); font-weight: 600; white-space: nowrap; }
tbody th { font-weight: 600; }
td.empty { color: var(--muted); text-align: center; padding: 1.2rem; }
.status { display: inline-block; padding: .05rem .55rem; border-radius: 999px; font-size: .85rem; font-weight: 600; white-space: nowrap; }
.status-running { background: #e3effb; color: #0b4a8c; }
.status-pending, .status-draft { background: #eef0f3; color: #374151; }
.status-completed { background: #e4f4e8; color: #1a5e2a; }
.status-failed { background: #fbe6e7; color: #961019; }
.status-stopped { background: #fff2d6; color: #6e4400; }
.status-cancelled { background: #f4e8f7; color: #5e2469; }
.progress { display: flex; align-items: center; gap: .5rem; min-width: 11rem; }
.bar { flex: 1; height: .7rem; background: #e5e7eb; border-radius: 999px; overflow: hidden; display: flex; min-width: 5rem; }
.bar .ok { background: var(--ok); }
.bar .bad { background: var(--bad); }
.counts { font-size: .85rem; color: var(--muted); white-space: nowrap; }
.counts-list { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: .4rem 1.2rem; margin: .5rem 0; }
.dot { display: inline-block; width: .7rem; height: .7rem; border-radius: 50%; margin-right: .35rem; background: #9ca3af; }
.dot-completed { background: var(--ok); } .dot-failed { background: var(--bad); } .dot-running { background: var(--accent); }
.details { display: grid; grid-template-columns: max-content 1fr; gap: .35rem 1.2rem; margin: 0; }
.details dt { font-weight: 600; color: var(--muted); }
.details dd { margin: 0; overflow-wrap: anywhere; }
ul.plain { list-style: none; padding: 0; margin: 0; }
code { font-family: ui-monospace, "Cascadia Mono", "DejaVu Sans Mono", monospace; background: var(--back); padding: 0 .25rem; border-radius: 4px; }
.sign-in { max-width: 40rem; }
.group-form { max-width: 48rem; }
fieldset.rollout { margin-top: 1rem; }
.rollout-body { margin: .4rem 0 .8rem 1.6rem; }
.rollout .pair { display: flex; flex-wrap: wrap; gap: 0 1rem; }
.rollout .pair input { width: 8rem; }
.rollout .pair select { width: auto; }
.rollout .choice { margin: .3rem 0; }
.rollout.types .choice { margin-right: 1.2rem; }
.rollout .pair input[type^=date] { width: auto; }
table.retries { width: auto; }
table.retries td { padding: .15rem 1rem .15rem 0; border: 0; }
table.retries input[type=number] { width: 5rem; }
h3 { font-size: 1rem; margin: 1rem 0 .4rem; }
.top nav a { margin-right: 1rem; }
table.groups td code { overflow-wrap: anywhere; }
.sign-in button { margin-top: .75rem; }
.sign-in .or { margin: 1.25rem 0 .5rem; font-weight: 600; }
.columns { display: grid; grid-template-columns: minmax(18rem, 1fr) minmax(18rem, 1fr); gap: 1.5rem; align-items: start; }
.device-picker { border: 1px solid var(--line); border-radius: 6px; padding: .2rem 1rem 1rem; }
.device-picker h2 { margin-top: .6rem; }
.device-picker .all { margin: .3rem 0; }
.check-head, .check-cell { display: inline-flex; align-items: center; gap: .35rem; }
.note { display: block; color: var(--muted); font-size: .85rem; }
.pager { display: flex; gap: .6rem; margin-top: .6rem; }
@media (max-width: 900px) {
  .columns { grid-template-columns: 1fr; }
  main { padding: .75rem; }
  .who { margin-left: 0; }
}
"""
