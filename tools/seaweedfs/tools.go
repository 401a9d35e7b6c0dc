//go:build tools

// Package tools pins the SeaweedFS server (`weed`) the sandbox uses as an S3-compatible state backend.
package tools

import (
	_ "github.com/seaweedfs/seaweedfs/weed"
)
