// Package kubernetai fakes a plugin package that registers nothing yet.
package kubernetai
