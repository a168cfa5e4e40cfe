Console.Error.WriteLine("relay-grpc-bench: under construction"); return 2;
