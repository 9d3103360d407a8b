// Package browsertest drives a headless Chromium for the console's tests:
// a small client of the Chrome DevTools Protocol over
// --remote-debugging-pipe (no WebSocket, no dependency) that opens tabs,
// navigates, evaluates script, waits for a condition, records dialogs and
// uncaught exceptions, and writes screenshots. Without Chromium a test
// skips, except in CI (CI=true), where it fails.
package browsertest
