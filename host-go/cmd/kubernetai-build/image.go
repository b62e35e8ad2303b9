package main

import (
	"fmt"
	"io"

	"github.com/kubernetai/kubernetai/host-go/builder/image"
)

// checkImage validates --image before the build starts, so that a mistake
// in it costs no compile. With no --image there is nothing to check.
func checkImage(path, binary string) (image.Options, error) {
	o := image.Options{Binary: binary}
	if path == "" {
		return o, nil
	}
	var err error
	if o.Created, err = image.SourceDateEpoch(); err == nil {
		err = o.Check(path)
	}
	if err != nil {
		return o, usageError{fmt.Errorf("--image: %w", err)}
	}
	return o, nil
}

// writeImage writes the image of the binary that passed the smoke check,
// when --image asked for it.
func writeImage(path string, o image.Options, stdout io.Writer) error {
	if path == "" {
		return nil
	}
	res, err := image.Write(path, o)
	if err != nil {
		return fmt.Errorf("--image: %w", err)
	}
	fmt.Fprintln(stdout, image.Describe(path, res))
	return nil
}
