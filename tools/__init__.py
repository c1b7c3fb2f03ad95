"""Developer tools: the offline plan (`make plan`) and the reviewed graph snapshot (`make reviewed-graph`)."""
