module github.com/infra/helloworld

go 1.22
