"""Analysis of channels-bench results: charts, reports and run comparison."""
