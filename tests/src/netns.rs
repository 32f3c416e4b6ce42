//! Network-namespace lab: hosts on bridges, programs run inside them, observation of addresses and packets, partitions; torn down on drop.
