"""Server-rendered HTML shared by the web view and the yearly report: one stylesheet inline,
charts as inline SVG with their numbers in a table beside them, no script, no font, no CDN."""
