"""No models. The module exists so that Django sends `post_migrate` for this app (it skips
apps without one): AgentsiteConfig.ready connects the schedules' receiver to it."""
