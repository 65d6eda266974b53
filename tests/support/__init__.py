"""Real test doubles shared by every test package: free ports, service processes, databases."""
