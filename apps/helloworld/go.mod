module github.com/infra/helloworld

go 1.27.3
