// Package kubernetai fakes a plugin registered only under a build tag.
package kubernetai
