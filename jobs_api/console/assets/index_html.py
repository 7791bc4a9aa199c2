"""The console's page, served as /api/console/ (and /api/console/index.html)."""

TEXT = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Jobs - Bulk jobs console</title>
<link rel="stylesheet" href="console.css">
<script src="console.js" defer></script>
</head>
<body>
<a class="skip" href="#main" id="skip">Skip to content</a>
<header class="top">
  <span class="brand">Bulk jobs</span>
  <nav aria-label="Console"><a href="#/jobs">Jobs</a> <a href="#/scheduled">Scheduled jobs</a> <a href="#/groups">Device groups</a></nav>
  <div class="who" id="who" hidden>
    <span id="who-text"></span>
    <button type="button" id="sign-out" class="quiet">Sign out</button>
  </div>
</header>
<main id="main" tabindex="-1">
  <noscript><p>The console needs JavaScript. The API it uses is described at <a href="../openapi.json">../openapi.json</a>.</p></noscript>
</main>
</body>
</html>
"""
