//! Versioned datasets: import, cleaning, statistics, export.
