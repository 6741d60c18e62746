"""The benchmark harness behind `make bench` (see DESIGN.md §9). Placeholder until it is written."""
