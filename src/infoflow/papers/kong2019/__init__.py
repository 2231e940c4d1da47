"""Kong (2019), Information Compression in Simple Neural Networks: configs, claims C1-C7, reproduce, accuracy."""
