"""Operations: the health endpoint, request logs and the dependency audit."""
