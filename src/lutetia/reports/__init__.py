"""Reports: what Lutetia prints or renders for people (text now; letters later)."""
