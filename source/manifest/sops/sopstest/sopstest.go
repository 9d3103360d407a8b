// Package sopstest helps tests that decrypt SOPS files: it hides the keys of
// the machine the tests run on, so that a test sees exactly the keys it sets.
package sopstest

import (
	"os"
	"testing"
)

// keyEnv are the variables sops reads keys (or their locations) from.
var keyEnv = []string{
	"SOPS_AGE_KEY", "SOPS_AGE_KEY_FILE", "SOPS_AGE_KEY_CMD",
	"SOPS_AGE_SSH_PRIVATE_KEY_FILE", "SOPS_AGE_SSH_PRIVATE_KEY_CMD",
	"SOPS_GPG_EXEC", "SOPS_PGP_FP", "SOPS_AGE_RECIPIENTS",
}

// IsolateKeys unsets every sops key variable, points HOME, XDG_CONFIG_HOME
// and GNUPGHOME at empty directories, then sets env (name, value pairs). All
// is restored when the test ends. Tests that call it cannot run in parallel.
func IsolateKeys(t testing.TB, env ...string) {
	t.Helper()
	if len(env)%2 != 0 {
		t.Fatalf("IsolateKeys: env must be name, value pairs")
	}
	for _, k := range keyEnv {
		if old, ok := os.LookupEnv(k); ok {
			t.Cleanup(func() { os.Setenv(k, old) })
			os.Unsetenv(k)
		}
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", home)
	t.Setenv("GNUPGHOME", home)
	for i := 0; i < len(env); i += 2 {
		t.Setenv(env[i], env[i+1])
	}
}
