package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"flag"
	"fmt"
	"io"

	"github.com/fixtap/fixtap/internal/chain"
)

// runKeygen writes a new event-signing key: the private key with mode 0600,
// the public key beside it (FILE.pub), and prints the public key and KeyID.
func runKeygen(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("keygen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "private key file to create (must not exist); the public key goes to FILE.pub")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() != 0 {
		fs.Usage()
		return &usageError{"keygen: -out FILE is required and takes no arguments"}
	}
	priv, err := chain.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	if err := chain.WritePrivateKeyFile(*out, priv); err != nil {
		return err
	}
	s := chain.NewSigner(priv)
	if err := chain.WritePublicKeyFile(*out+".pub", s.Public()); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "private key: %s (mode 0600)\n", *out)
	fmt.Fprintf(stdout, "public key file: %s.pub\n", *out)
	fmt.Fprintf(stdout, "public key (base64): %s\n", base64.StdEncoding.EncodeToString(s.Public()))
	fmt.Fprintf(stdout, "key id: %s\n", s.KeyID())
	return nil
}
