package main

import (
	"errors"
	"flag"
	"io"
)

var (
	errHelp      = errors.New("help requested")
	errFlagParse = errors.New("bad flags")
)

// newFlagSet returns a flag set that reports to stderr and never exits.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse parses args and refuses positional arguments beyond want.
func parse(fs *flag.FlagSet, args []string, want int) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return errFlagParse
	}
	if fs.NArg() > want {
		return usagef("%s: unexpected argument %q", fs.Name(), fs.Arg(want))
	}
	return nil
}
