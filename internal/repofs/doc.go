// Package repofs reads the files of a repository digitops does not trust.
//
// Anyone who can open a pull request writes the repository a plan reads, so
// every file read through it resolves inside the repository root (a symlink
// is followed only while it stays inside), only regular files are read (a
// FIFO, a device or /dev/zero is refused before it is opened), and each file
// is read under a size cap. Errors name the file as the repository names it
// and, for a link, where it points.
package repofs
