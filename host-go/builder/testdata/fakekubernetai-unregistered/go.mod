module github.com/kubernetai/kubernetai/host-go

go 1.26.0
