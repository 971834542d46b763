// The colour scheme before the page paints: the one chosen with the toggle (kept in
// localStorage), else the system's (prefers-color-scheme, in app.css).
"use strict";
try {
  const chosen = localStorage.getItem("supportkpi-theme");
  if (chosen === "dark" || chosen === "light") document.documentElement.dataset.theme = chosen;
} catch (e) { /* storage refused: follow the system */ }
