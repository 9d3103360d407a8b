// Package edit sets image tags in an environment's files in place: what
// `digitops set-image` changes before it commits.
//
// # What it edits
//
// Where a tag is written depends on the environment's layout:
//
//	digit     the release chart's services: entries, repo/NAME:TAG and
//	          repo/NAME-db:TAG (the database migration image) together
//	native    the release's values in digitops.yaml: the last values item
//	          that sets image.tag, else its inline values (image.tag added)
//	helmfile  the environment values file keyed by chart name:
//	          NAME.image.tag (added when missing)
//
// The values paths are digit.TagPaths: the first (image.tag) is set or
// added, the others (initContainers.dbMigration.image.tag) are set only
// where the file already has them.
//
// # Bytes
//
// A File is parsed with yaml.v3 only to find what to change; each edit
// splices bytes at a node's position, so comments, key order, quoting and
// indentation stay byte for byte. A plain value that YAML would read back
// as something else (1.10, a number) is written double-quoted.
//
// # Reads
//
// Files inside the repository are read as the loaders read them
// (internal/repofs): confined to the repository, regular files only, at
// most Options.MaxFileSize each. A configuration file outside the
// repository (the operator's own --config), and what it names, is read
// directly, as loader.Config reads it.
//
// SetImageTags reads and computes; it writes nothing. File.Write writes
// one edited file; committing and pushing is source/git's Worktree.
package edit
